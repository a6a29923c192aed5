"""namcheck.signals: test signals and level measures."""
