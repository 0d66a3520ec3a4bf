"""The example downstream suite: ``tokenclient`` tested with pytest-relaytokens."""
