# The default provider talks to the coordinator; its settings usually come
# from SLIPSTREAM_COORDINATOR_URL and SLIPSTREAM_TOKEN.
provider "slipstream" {}

# One alias per cloud, as slipc emits them: here existing hosts over SSH...
provider "slipstream" {
  alias = "lab"
  fixed = {
    user             = "root"
    private_key_file = "~/.ssh/id_ed25519"
  }
}

# ...and an EC2 region whose credentials come from the usual AWS variables.
provider "slipstream" {
  alias = "aws"
  ec2 = {
    region = "eu-west-1"
  }
}
