# Imported by slipc import slipstream from image.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# SlipStream cloud service "test-cloud".
cloud "test-cloud" {
  todo = "SlipStream's cloud service \"test-cloud\": choose its connector and that connector's settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}
