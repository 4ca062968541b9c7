"""LLM usage extraction and pricing.

Importing this package is cheap: it pulls in no provider SDK and not genai-prices.
Use ``glassbox.cost.usage`` (``extract_usage``, ``LLMUsage``), ``glassbox.cost.pricing``
(``Pricer``, ``PriceResult``) and ``glassbox.cost.tokens`` (estimates) directly.
"""
