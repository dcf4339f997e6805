# Imported by slipc import slipstream from examples_images_ubuntu-14.04.xml,
# examples_tutorials_service-testing.xml, examples_tutorials_service-testing_apache.xml,
# examples_tutorials_service-testing_client.xml, examples_tutorials_service-testing_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# deploy runs, in order, the outputs SlipStream preset (scripts/apache/preset-outputs.sh), then the
# execute target of examples/tutorials/service-testing/apache (scripts/apache/execute.sh).
component "apache" {
  description = "Apache web server appliance with custom landing page."
  image       = image.apache
  deploy = [
    file("scripts/apache/preset-outputs.sh"),
    file("scripts/apache/execute.sh"),
  ]
  report = file("scripts/apache/report.sh")
}

component "client" {
  description = "Web client tests server connectivity and verifies content."
  image       = image.client
  deploy      = file("scripts/client/execute.sh")
  report      = file("scripts/client/report.sh")
  on_vm_add   = file("scripts/client/onvmadd.sh")
}
