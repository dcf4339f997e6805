# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_images_windows-server-2012.xml, examples_tutorials_service-testing-windows_apache.xml,
# examples_tutorials_service-testing-windows_client.xml,
# examples_tutorials_service-testing-windows_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# SlipStream cloud service "default".
cloud "default" {
  todo = "SlipStream's cloud service \"default\" (each user's default cloud): choose a connector and its settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}
