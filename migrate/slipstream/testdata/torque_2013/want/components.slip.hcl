# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_tutorials_torque_torque.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

component "torque-master" {
  description = "master node for torque cluster"
  image       = image.torque-master
  deploy      = file("scripts/torque-master/execute.sh")
}

component "torque-worker" {
  description = "worker node for torque cluster"
  image       = image.torque-worker
  deploy      = file("scripts/torque-worker/execute.sh")
}
