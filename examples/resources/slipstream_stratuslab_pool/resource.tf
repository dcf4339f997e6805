# A large node's machines on one cloud as one pool: they start in batches
# (one VM per call, from one template, behind StratusLab's proxy) and the state
# keeps one line per machine. slipc emits this for a node of more than 20
# instances (or with pool = true in the node).
provider "slipstream" {
  alias = "sl"
  stratuslab = {
    endpoint = "cloud.example.org" # StratusLab's proxy, https://cloud.example.org:2634/xmlrpc
  }
}

resource "slipstream_stratuslab_pool" "worker" {
  provider = slipstream.sl

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id      = "template:3" # a VM template, with its own NICs and disks
  instance_type = "m1.small"
}
