# A large node's machines on one cloud as one pool: they start in batches
# (on Azure, a few VM creates at a time) and the state keeps one line per
# machine. slipc emits this for a node of more than 20 instances (or with
# pool = true in the node).
provider "slipstream" {
  alias = "az"
  azure = {
    subscription_id = "8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f"
    location        = "westeurope"
  }
}

resource "slipstream_azure_pool" "worker" {
  provider = slipstream.az

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id = "Debian:debian-12:12-gen2:latest"
  vm_size  = "Standard_D2s_v5" # instead of cpu and ram
  # An existing group and subnet, kept when the deployment goes.
  resource_group = "grid-rg"
  subnet_id      = "/subscriptions/8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f/resourceGroups/grid-rg/providers/Microsoft.Network/virtualNetworks/grid-net/subnets/default"
}
