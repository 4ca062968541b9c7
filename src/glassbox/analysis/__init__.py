"""Analysis over the store: queries, cost and quality statistics, calibration flags.

Pure logic over the store layer; never imports the CLI or the server.
"""
