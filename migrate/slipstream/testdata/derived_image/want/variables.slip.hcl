# Imported by slipc import slipstream from examples_images_ubuntu-12.04-standalone.xml,
# examples_tutorials_service-testing_apache.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

variable "apache_admin_password" {
  type        = string
  description = "The default of input \"admin_password\" of image \"apache\" (imported from SlipStream, where it was a password default; give it with -var)."
  sensitive   = true
}
