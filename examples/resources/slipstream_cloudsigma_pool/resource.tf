# A large node's machines on one cloud as one pool: they start in batches
# (one cloud call for up to batch_size machines) and the state keeps one
# line per machine. slipc emits this for a node of more than 20
# instances (or with pool = true in the node).
provider "slipstream" {
  alias = "cs"
  cloudsigma = {
    location = "zrh"
  }
}

resource "slipstream_cloudsigma_pool" "worker" {
  provider = slipstream.cs

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id = "5e2d8a41-1b7c-4f3e-9a6d-2c8b0e4f7a13"
  cpu      = 1
  ram      = 1
}
