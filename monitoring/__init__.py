"""Data-quality monitoring of the endpoint: the Model Monitor record preprocessor, baseline and checks."""
