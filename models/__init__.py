"""namcheck.models"""
