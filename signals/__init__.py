"""namcheck.signals"""
