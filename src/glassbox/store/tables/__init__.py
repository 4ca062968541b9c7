"""Table families of the wave's features; each module adds its tables to ``schema.metadata``.

``glassbox.store.schema`` imports every family at its end, so ``metadata`` always holds them all
(the migrations test compares it with what the migrations build).
"""
