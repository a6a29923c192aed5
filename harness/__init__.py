"""namcheck.harness"""
