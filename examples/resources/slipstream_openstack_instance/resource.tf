# The web node's machines on an OpenStack cloud, one per instance.
provider "slipstream" {
  alias = "private"
  openstack = {
    # Or OS_* variables, or an entry of clouds.yaml:  cloud = "mycloud"
    auth_url     = "https://keystone.example.com:5000/v3"
    user_name    = "deployer"
    password     = var.openstack_password
    project_name = "shop"
    domain_name  = "Default"
    region       = "RegionOne"
  }
}

resource "slipstream_openstack_instance" "web" {
  count    = 3
  provider = slipstream.private

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  image_id = "5f1c2a3b-0d7e-4a60-9c1b-3e2f1a0b9c8d"
  cpu      = 2 # the smallest flavor with 2 vCPUs and 4 GB
  ram      = 4

  network          = "shop-net"
  security_groups  = ["default", "slipstream-agent"]
  floating_ip_pool = "public"
  ssh_public_key   = file("~/.ssh/id_ed25519.pub")
}
