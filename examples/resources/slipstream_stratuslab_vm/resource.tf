# A recipe written for StratusLab, on the OpenNebula cloud that replaced
# it: StratusLab's endpoint form, credentials, instance types and
# cloud-init contextualization (see docs/clouds.md).
provider "slipstream" {
  alias = "sl"
  stratuslab = {
    # A host name is StratusLab's proxy (https://<host>:2634/xmlrpc); a
    # …/RPC2 URL is an OpenNebula front-end. Or STRATUSLAB_ENDPOINT,
    # STRATUSLAB_USERNAME, STRATUSLAB_PASSWORD, or
    # ~/.stratuslab/stratuslab-user.cfg.
    endpoint = "https://one.example.org:2633/RPC2"
    username = "deployer"
    password = var.stratuslab_password
  }
}

variable "stratuslab_password" {
  type      = string
  sensitive = true
}

resource "slipstream_stratuslab_vm" "web" {
  count    = 2
  provider = slipstream.sl

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  # A Marketplace identifier, of the image imported with
  # STRATUSLAB_MARKETPLACE_ID = "BN1EEkPiBx87_uLj2-sdybSI-Xb"; or an image id.
  image_id      = "BN1EEkPiBx87_uLj2-sdybSI-Xb"
  instance_type = "m1.large"

  ssh_public_key = file("~/.ssh/id_rsa.pub")
}
