package guest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// The base image recipe: what debootstrap installs and how the tree is
// then set up for guests. Any change here changes recipeHash, and so the
// cache folder: an image built by an older recipe is never used.
const (
	imageSuite   = "bookworm"
	imageVariant = "minbase"
	imageStem    = "debian12-cloudinit"
	// recipeRevision counts changes to configureImage that the other
	// inputs of the hash do not show.
	recipeRevision = 2
)

// imagePackages are installed on top of minbase: cloud-init and what its
// dependencies fail to configure without (python3-cffi-backend), curl and
// ca-certificates for user-data that fetch things (the SlipStream
// bootstrap does), iproute2 for looking at the guest's network.
var imagePackages = []string{"python3-cffi-backend", "cloud-init", "curl", "ca-certificates", "iproute2"}

// cloudConfigName is the file configureImage writes into
// /etc/cloud/cloud.cfg.d; it sorts after Debian's own files and wins.
const cloudConfigName = "90_slipstream_fakecloud.cfg"

// cloudConfig is cloud-init's configuration in the image. A guest is a
// set of namespaces on a shared test machine, not a virtual machine:
// cloud-init may configure the guest (its root is an overlay, its hostname
// its own UTS namespace's), but nothing it does may reach the machine
// underneath or the world outside. So: the NoCloud seed only, never a scan
// of block devices for a "cidata" file system; no network configuration
// (the runtime sets the address); keys for root, no default user (minbase
// has no sudo); no SSH host keys (there is no sshd); the C.UTF-8 locale,
// which needs no locales package (the image's /etc/default/locale says it
// too, so the locale module has nothing to do); and the module lists
// of cloud-init 22.4's Debian cloud.cfg without the modules that act on
// the machine rather than the guest:
//   - seed_random writes the kernel's entropy pool, which is the machine's;
//   - growpart, resizefs, disk_setup and mounts resize, partition, format
//     and mount disks and turn swap on (swap is machine-wide);
//   - ntp installs a time daemon that sets the clock, which no namespace
//     isolates;
//   - keyboard runs setupcon/loadkeys on the console; grub-dpkg probes the
//     disks for GRUB;
//   - snap, ssh-import-id, landscape and lxd talk to services outside
//     (snapd, Launchpad/GitHub, Landscape, LXD) or set up storage and
//     bridges;
//   - fan, reset_rmc, refresh_rmc_and_interface and install-hotplug
//     reconfigure network interfaces or install udev hooks.
//
// The runtime also drops the capabilities to set the clock, load modules,
// read or clear the kernel log, and use raw I/O before cloud-init starts,
// and mounts /proc/sys read-only, so a module or user-data that tries
// anyway fails inside the guest.
const cloudConfig = `# Written by SlipStream's fake-cloud image recipe
# (connectors/fakecloud/guest): a guest is namespaces on a shared test
# machine; cloud-init configures the guest and nothing else.
datasource_list: [NoCloud, None]
datasource:
  NoCloud:
    fs_label: null
network:
  config: disabled
manage_etc_hosts: false
locale: C.UTF-8
preserve_hostname: false
disable_root: false
users: []
ssh_deletekeys: false
ssh_genkeytypes: []
cloud_init_modules:
 - migrator
 - bootcmd
 - write-files
 - set_hostname
 - update_hostname
 - update_etc_hosts
 - ca-certs
 - rsyslog
 - users-groups
 - ssh
cloud_config_modules:
 - locale
 - set-passwords
 - apt-pipelining
 - apt-configure
 - timezone
 - disable-ec2-metadata
 - runcmd
 - byobu
cloud_final_modules:
 - package-update-upgrade-install
 - write-files-deferred
 - puppet
 - chef
 - mcollective
 - salt-minion
 - rightscale_userdata
 - scripts-vendor
 - scripts-per-once
 - scripts-per-boot
 - scripts-per-instance
 - scripts-user
 - ssh-authkey-fingerprints
 - keys-to-console
 - phone-home
 - final-message
 - power-state-change
`

// recipeHash is a short hash of everything that decides the image's
// content (not the mirror it was downloaded from).
func recipeHash() string {
	data, _ := json.Marshal(struct {
		Suite, Variant string
		Packages       []string
		CloudConfig    string
		Revision       int
	}{imageSuite, imageVariant, imagePackages, cloudConfig, recipeRevision})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

// imageName is the image's folder in the cache.
func imageName() string { return imageStem + "-" + recipeHash() }

func debootstrapArgs(rootfs, mirror string) []string {
	return []string{"--variant=" + imageVariant, "--include=" + strings.Join(imagePackages, ","), imageSuite, rootfs, mirror}
}
