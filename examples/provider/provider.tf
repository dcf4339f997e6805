# The default provider talks to the coordinator; its settings usually come
# from SLIPSTREAM_COORDINATOR_URL and SLIPSTREAM_TOKEN.
provider "slipstream" {}

# One alias per cloud, as slipc emits them: here existing hosts in the lab,
# reached over SSH as root...
provider "slipstream" {
  alias = "lab"
  fixed = {
    user             = "root"
    private_key_file = "~/.ssh/id_ed25519"
  }
}

# ...and a second pool of hosts in a data centre, behind its jump host.
provider "slipstream" {
  alias = "datacenter"
  fixed = {
    user         = "deploy"
    private_key  = var.dc_private_key
    bastion_host = "198.51.100.2"
    bastion_user = "jump"
  }
}

# Cloud machines: one alias per cloud and region of the recipe.
provider "slipstream" {
  alias = "aws_eu"
  ec2 = {
    region = "eu-west-1"
  }
}

provider "slipstream" {
  alias = "private"
  openstack = {
    cloud = "mycloud" # an entry of clouds.yaml
  }
}

provider "slipstream" {
  alias = "cs_zrh"
  cloudsigma = {
    location = "zrh"
  }
}
