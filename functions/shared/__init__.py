"""Code shared by the inference Lambdas; copied into every function zip as the package `shared`."""
