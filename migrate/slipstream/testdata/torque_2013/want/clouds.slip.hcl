# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_tutorials_torque_torque.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# SlipStream cloud service "default".
cloud "default" {
  todo = "SlipStream's cloud service \"default\" (each user's default cloud): choose a connector and its settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}

# SlipStream cloud service "stratuslab".
# Its name suggests connector "stratuslab" (StratusLab).
cloud "stratuslab" {
  todo = "SlipStream's cloud service \"stratuslab\": choose its connector (its name suggests \"stratuslab\") and that connector's settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}
