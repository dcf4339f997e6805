# The web node's machines on Azure, one VM per instance. Without
# resource_group and subnet_id, the deployment gets a resource group
# slipstream-<deployment> with a virtual network, deleted with its last VM.
provider "slipstream" {
  alias = "az"
  azure = {
    subscription_id = "8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f"
    location        = "westeurope"
    # Credentials: a service principal here (tenant_id, client_id,
    # client_secret), or AZURE_* variables, workload identity, or az login.
  }
}

resource "slipstream_azure_vm" "web" {
  count    = 3
  provider = slipstream.az

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  image_id = "Debian:debian-12:12-gen2:latest" # or a managed image or gallery image version id
  cpu      = 2                                 # with ram: the smallest VM size that fits (Standard_B2s)
  ram      = 4
  disk     = 64

  associate_public_ip = true
  ssh_public_key      = file("~/.ssh/id_ed25519.pub")
  tags                = { team = "shop" }
}
