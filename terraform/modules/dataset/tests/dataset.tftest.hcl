variables {
  bucket_name = "courier-vehicle-data"
  repo_root   = "../.."
}

run "disabled_by_default" {
  command = plan

  assert {
    condition     = length(terraform_data.etl) == 0
    error_message = "the ETL must not run unless enabled"
  }

  assert {
    condition     = output.channels.validation == "s3://courier-vehicle-data/datasets/cifar-bikes/validation/"
    error_message = "channel URIs must follow bucket and prefix"
  }
}

run "enabled_runs_the_etl_with_its_inputs_as_triggers" {
  command = plan

  variables {
    enabled             = true
    prefix              = "/data/bikes/"
    classes             = ["motorcycle", "bicycle"]
    validation_fraction = 0.2
    seed                = 7
  }

  assert {
    condition     = length(terraform_data.etl) == 1
    error_message = "enabled must create the ETL resource"
  }

  assert {
    condition = terraform_data.etl[0].triggers_replace == {
      source_uri          = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
      checksum            = ""
      bucket_name         = "courier-vehicle-data"
      prefix              = "data/bikes"
      classes             = "motorcycle,bicycle"
      validation_fraction = "0.2"
      seed                = "7"
    }
    error_message = "every input that changes the dataset must be a trigger"
  }

  assert {
    condition     = strcontains(output.etl_command, "'--prefix' 'data/bikes' '--classes' 'motorcycle,bicycle' '--validation-fraction' '0.2' '--seed' '7'")
    error_message = "the command must pass the inputs to python -m etl"
  }

  assert {
    condition     = output.manifest_uri == "s3://courier-vehicle-data/data/bikes/manifest.json"
    error_message = "the manifest sits at the dataset root"
  }
}

run "quotes_survive_the_shell" {
  command = plan

  variables {
    source_uri = "/data/it's here.tar.gz"
  }

  assert {
    condition     = strcontains(output.etl_command, "'--source' '/data/it'\\''s here.tar.gz'")
    error_message = "values must be single-quoted for /bin/sh"
  }
}

run "rejects_a_validation_fraction_of_one_half" {
  command = plan

  variables {
    validation_fraction = 0.5
  }

  expect_failures = [var.validation_fraction]
}

run "rejects_a_malformed_checksum" {
  command = plan

  variables {
    checksum = "md5:xyz"
  }

  expect_failures = [var.checksum]
}
