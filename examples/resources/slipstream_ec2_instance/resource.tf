# The web node's machines on EC2, one per instance. slipc emits this from a
# recipe whose cloud block says `connector = "ec2"`; the user-data installs
# the agent, which then runs the node's scripts.
provider "slipstream" {
  alias = "aws"
  ec2 = {
    region = "eu-west-1"
    # Credentials: the standard AWS chain (AWS_* variables, ~/.aws files,
    # an instance role), or profile = "…", or access_key/secret_key.
  }
}

resource "slipstream_ec2_instance" "web" {
  count    = 3
  provider = slipstream.aws

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  image_id = "ami-0123456789abcdef0"
  cpu      = 1 # with ram: the smallest instance type that fits (t3.micro)
  ram      = 1

  subnet_id          = "subnet-0abc"
  security_group_ids = ["sg-0abc"] # must let the machines reach the coordinator
  ssh_public_key     = file("~/.ssh/id_ed25519.pub")
  tags               = { team = "shop" }
}
