# Imported by slipc import slipstream from examples_images_ubuntu-12.04-standalone.xml,
# examples_tutorials_service-testing_apache.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# deploy runs, in order, the outputs SlipStream preset (scripts/apache/preset-outputs.sh), then the
# execute target of examples/images/ubuntu-12.04-standalone
# (scripts/ubuntu-12_04-standalone/execute.sh), then the execute target of
# examples/tutorials/service-testing/apache (scripts/apache/execute.sh). SlipStream ran the same
# target of every image of the chain, root first.
component "apache" {
  description = "Apache web server appliance with custom landing page."
  image       = image.apache
  deploy = [
    file("scripts/apache/preset-outputs.sh"),
    file("scripts/ubuntu-12_04-standalone/execute.sh"),
    file("scripts/apache/execute.sh"),
  ]
  report = file("scripts/apache/report.sh")
}

component "ubuntu-12_04-standalone" {
  description = "Standalone deployment of Ubuntu-12.04 machine"
  image       = image.ubuntu-12_04-standalone
  deploy      = file("scripts/ubuntu-12_04-standalone/execute.sh")
}
