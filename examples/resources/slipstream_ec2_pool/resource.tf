# A large node's machines on one cloud as one pool: they start in batches
# (one cloud call for up to batch_size machines) and the state keeps one
# line per machine. slipc emits this for a node of more than 20
# instances (or with pool = true in the node).
provider "slipstream" {
  alias = "aws"
  ec2 = {
    region = "eu-west-1"
  }
}

resource "slipstream_ec2_pool" "worker" {
  provider = slipstream.aws

  deployment_id = slipstream_deployment.grid.id
  node          = "worker"
  # The deployment's count, so a scale reaches the coordinator first.
  multiplicity = slipstream_deployment.grid.multiplicities["worker"]

  image_id = "ami-0123456789abcdef0"
  cpu      = 1
  ram      = 1
}
