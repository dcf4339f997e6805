# A large node's machines on one cloud as one pool: they start in batches
# (OpenNebula allocates one VM per call, from one template) and the state
# keeps one line per machine. slipc emits this for a node of more than 20
# instances (or with pool = true in the node).
provider "slipstream" {
  alias = "one"
  opennebula = {
    endpoint = "https://one.example.com:2633/RPC2"
  }
}

resource "slipstream_opennebula_pool" "worker" {
  provider = slipstream.one

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id = "template:3" # a VM template, with its own NICs and disks
  cpu      = 1
  ram      = 1
}
