# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_tutorials_torque_torque.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module examples/tutorials/torque/torque-master, version 321
# (examples_tutorials_torque_torque.xml, inside a deployment).
# SlipStream parameters of single clouds (a node on that cloud takes them as its connector's
# settings where it has them):
#   CC-IN2P3: instance.type = "m1.tiny", security.groups = "default"
#   LLR: disks.bus.type = "virtio", instance.type = "m1.small"
#   stratuslab: cpu = "2", disks.bus.type = "virtio", instance.type = "m1.large", ram = "2"
# Not imported (no equivalent in a recipe):
#   - version 321: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get; public: get: a recipe is shared as files (a repository's own rights)
#   - commit by sixsq: commit messages belong to the recipe's version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
#   - parameters of single clouds (CC-IN2P3, LLR, stratuslab) have no place on an image: they are
#     listed in a comment above it, and a node on one of those clouds takes them as settings where
#     its connector has them
image "torque-master" {
  description = "master node for torque cluster"
  parent      = image.ubuntu-12_04
  ids = {
    stratuslab = "KBhcU87Wm5IZNOXZYGHrczGekwp"
  }

  output "master_hostname" {
    description = "hostname as name, not IP address"
  }

  output "munge_key64" {
    description = "base64 encoded munge key"
  }

  output "user_id_rsa64" {
    description = "base64 encoded ssh private key for user"
  }
}

# Imported from SlipStream image module examples/tutorials/torque/torque-worker, version 318
# (examples_tutorials_torque_torque.xml, inside a deployment).
# SlipStream parameters of single clouds (a node on that cloud takes them as its connector's
# settings where it has them):
#   CC-IN2P3: instance.type = "m1.tiny", security.groups = "default"
#   LLR: disks.bus.type = "virtio", instance.type = "m1.small"
#   stratuslab: cpu = "2", disks.bus.type = "virtio", instance.type = "m1.large", ram = "2"
# Not imported (no equivalent in a recipe):
#   - version 318: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get; public: get: a recipe is shared as files (a repository's own rights)
#   - commit by sixsq: commit messages belong to the recipe's version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
#   - parameters of single clouds (CC-IN2P3, LLR, stratuslab) have no place on an image: they are
#     listed in a comment above it, and a node on one of those clouds takes them as settings where
#     its connector has them
image "torque-worker" {
  description = "worker node for torque cluster"
  parent      = image.ubuntu-12_04
  ids = {
    stratuslab = "KBhcU87Wm5IZNOXZYGHrczGekwp"
  }
}

# Imported from SlipStream image module examples/images/ubuntu-12.04, version 289
# (examples_images_ubuntu-12.04.xml).
# SlipStream parameters of single clouds (a node on that cloud takes them as its connector's
# settings where it has them):
#   CC-IN2P3: instance.type = "m1.tiny", security.groups = "default"
#   LLR: disks.bus.type = "virtio", instance.type = "m1.small"
#   stratuslab: disks.bus.type = "virtio", instance.type = "m1.small"
# Not imported (no equivalent in a recipe):
#   - version 289: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get; public: get: a recipe is shared as files (a repository's own rights)
#   - commit by sixsq: commit messages belong to the recipe's version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
#   - parameters of single clouds (CC-IN2P3, LLR, stratuslab) have no place on an image: they are
#     listed in a comment above it, and a node on one of those clouds takes them as settings where
#     its connector has them
image "ubuntu-12_04" {
  description = "Minimal installation of the Ubuntu 12.04 (LTS) operating system."
  login_user  = "root"
  platform    = "ubuntu"
}
