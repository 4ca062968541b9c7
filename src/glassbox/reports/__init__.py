"""Cost, quality, weekly and experiment reports (Markdown, self-contained HTML, JSON)."""
