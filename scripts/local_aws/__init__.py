"""The embedded AWS: moto's server plus local compute behind the AWS contracts this project uses."""
