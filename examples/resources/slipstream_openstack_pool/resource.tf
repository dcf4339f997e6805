# A large node's machines on one cloud as one pool: they start in batches
# (one cloud call for up to batch_size machines) and the state keeps one
# line per machine. slipc emits this for a node of more than 20
# instances (or with pool = true in the node).
provider "slipstream" {
  alias = "cloud"
  openstack = {
    cloud = "mycloud"
  }
}

resource "slipstream_openstack_pool" "worker" {
  provider = slipstream.cloud

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id = "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b"
  cpu      = 1
  ram      = 1
}
