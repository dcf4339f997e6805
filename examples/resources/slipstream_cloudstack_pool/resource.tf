# A large node's machines on one cloud as one pool: they start in batches
# (CloudStack deploys one VM per call, so a batch is that many calls) and
# the state keeps one line per machine. slipc emits this for a node of
# more than 20 instances (or with pool = true in the node).
provider "slipstream" {
  alias = "acs"
  cloudstack = {
    api_url = "https://cloud.example.com/client/api"
  }
}

resource "slipstream_cloudstack_pool" "worker" {
  provider = slipstream.acs

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id         = "3a7c9e2f-1b4d-4c6e-8f0a-2b4d6e8f0a1c"
  service_offering = "Medium Instance"
}
