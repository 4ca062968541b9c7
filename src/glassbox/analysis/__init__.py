"""Analysis over the store: queries, cost and quality statistics, calibration alerts.

Pure logic over the store layer; never imports the CLI or the server.
"""
