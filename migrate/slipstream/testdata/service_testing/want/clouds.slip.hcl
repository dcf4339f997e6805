# Imported by slipc import slipstream from examples_images_ubuntu-14.04.xml,
# examples_tutorials_service-testing.xml, examples_tutorials_service-testing_apache.xml,
# examples_tutorials_service-testing_client.xml, examples_tutorials_service-testing_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# SlipStream cloud service "default".
cloud "default" {
  todo = "SlipStream's cloud service \"default\" (each user's default cloud): choose a connector and its settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}
