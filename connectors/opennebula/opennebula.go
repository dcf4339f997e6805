// Package opennebula is the SlipStream connector for OpenNebula, on goca
// (OpenNebula's own Go client, release 7.0) over its XML-RPC API, and,
// with StratusLab's defaults, for what StratusLab users migrate to
// (NewStratusLab; StratusLab was OpenNebula underneath).
//
// # The mapping
//
// A machine is an OpenNebula VM; its id is the VM's numeric id ("42").
// Describe and Delete also take a VM's name, so that a VM can be imported
// by the name Sunstone shows; the id they report is the number.
//
// The image id is one of:
//   - an image id ("7"): the VM is allocated (one.vm.allocate) from a
//     template the connector writes: DISK=[IMAGE_ID=7] (with SIZE, in MB,
//     when the disk asked for is larger than the image), a NIC on the
//     network setting (NETWORK_ID), CPU, VCPU and MEMORY from the size, and
//     the CONTEXT below;
//   - "template:<id>" ("template:3"): the VM template is instantiated
//     (one.template.instantiate) with an extra template that OpenNebula
//     merges over it: the CONTEXT (the template's own variables with the
//     connector's over them, as OpenNebula replaces a CONTEXT given in the
//     extra template as a whole), a NIC when the network setting is set,
//     CPU, VCPU and MEMORY when a size is asked for, and the template's
//     disks with the first one resized when the disk asked for is larger;
//   - with StratusLab's defaults, also a StratusLab Marketplace identifier
//     (see stratuslab.go).
//
// The CONTEXT is what OpenNebula's contextualization and cloud-init's
// OpenNebula datasource read: NETWORK="YES", SET_HOSTNAME (the machine's
// name), SSH_PUBLIC_KEY, and the user-data as USER_DATA in base64 with
// USERDATA_ENCODING="base64" (base64 also keeps OpenNebula from reading
// "$" in the user-data as its own variables). StratusLab's contextualization
// is its "cloud-init" method instead (stratuslab.go).
//
// Labels go in the VM's user template, in one vector attribute:
//
//	SLIPSTREAM_LABELS = [ SLIPSTREAM_DEPLOYMENT = "lamp-1a2b3c4d", SLIPSTREAM_INSTANCE = "web.1", TEAM = "qa" ]
//
// OpenNebula attribute names are letters, digits and underscores, and it
// upper-cases them; a label key is therefore stored upper-cased with its
// dashes as underscores, and read back lower-cased with underscores as
// dashes. That is reversible for the keys this connector takes: lower-case
// letters, digits and dashes, beginning with a letter (every SlipStream
// label is one); others are refused with an error that says so. Keeping
// them in a vector of their own means no label can take the place of an
// attribute OpenNebula reads (NAME, SCHED_REQUIREMENTS, …), and List
// finds a deployment's VMs by it. Beside it, the user template holds
// SLIPSTREAM_IMAGE (the image id as given, for Describe and import) and
// SLIPSTREAM_REQUEST (a random id of the create that made the VM, which
// finds it again when the answer to the create was lost), and, for a VM
// sized by an instance type (StratusLab's), INSTANCE_TYPE.
//
// State comes from one.vm.info's STATE and LCM_STATE: running is ACTIVE
// and RUNNING (3/3); see stateOf for the rest. Delete is one.vm.action
// "terminate-hard" and waits until the VM is DONE (OpenNebula keeps DONE
// VMs; Describe reports them not found). List reads one.vmpool.infoextended
// (the VMs of the user, not DONE) and keeps those whose labels name the
// deployment: OpenNebula's own pool filter needs a MySQL back-end, so the
// filtering is done here. Snapshot powers the VM off (ACPI, then hard if
// it does not go down), saves its first disk as a new image
// (one.vm.disksaveas), labels the image's template and waits until the
// image is READY; DeleteImage is one.image.delete.
//
// OpenNebula sizes VMs freely, so Offers is one Free offer whose limits are
// the user's VM quota (CPU, MEMORY, and their RUNNING_ variants; a quota
// of -1 takes the default quota, -2 is unlimited), or MaxCPU and MaxRAMGB
// where the quota sets none.
//
// Errors are OpenNebula's own: a failure answer's code (AUTHENTICATION,
// AUTHORIZATION — also quotas —, NO_EXISTS, ACTION, ALLOCATE, …) and its
// message ("[one.vm.allocate] User couldn't be authenticated, aborting
// call."), classified in errors.go; HTTP errors of a proxy in front
// (429, 5xx) are transient.
//
// Credentials: the provider settings endpoint, username and password;
// then OPENNEBULA_ENDPOINT, OPENNEBULA_USERNAME and OPENNEBULA_PASSWORD (as
// OpenNebula's Terraform provider reads them); then ONE_XMLRPC and the
// ONE_AUTH file ("user:password" on its first line, default
// ~/.one/one_auth), as OpenNebula's CLI and goca read them; the endpoint
// defaults to http://localhost:2633/RPC2, as theirs does.
//
// Tested against connectors/opennebula/onefake, an XML-RPC server that
// answers in OpenNebula 7's shapes.
package opennebula

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Name is the connector's name in the catalog and in errors.
const Name = "opennebula"

// Environment variables read for settings left out: those of OpenNebula's
// Terraform provider first, then those of its CLI and goca.
const (
	EnvEndpoint = "OPENNEBULA_ENDPOINT"
	EnvUsername = "OPENNEBULA_USERNAME"
	EnvPassword = "OPENNEBULA_PASSWORD"
	// EnvXMLRPC is the CLI's endpoint variable.
	EnvXMLRPC = "ONE_XMLRPC"
	// EnvAuth names the CLI's credentials file (default ~/.one/one_auth).
	EnvAuth = "ONE_AUTH"
)

// DefaultEndpoint is where OpenNebula's CLI and goca look when nothing says
// otherwise: oned on this host.
const DefaultEndpoint = "http://localhost:2633/RPC2"

// Limits of the Free offer where the user's quota sets none: OpenNebula
// itself caps no VM's size (a VM larger than every host stays pending,
// with the scheduler's message as its Reason).
const (
	MaxCPU   = 128
	MaxRAMGB = 1024
)

// Connector creates machines on one OpenNebula front-end with one user. It
// is safe for concurrent use.
type Connector struct {
	// name is the connector's name in errors: Name, or StratusLabName.
	name   string
	flavor *flavor
	one    *goca.Controller
	// endpoint is the XML-RPC URL the connector talks to (no credentials).
	endpoint string

	// retry spaces the retries of transient failures inside a call that
	// made something (Create after the allocate, Snapshot after the
	// save-as); poll spaces the checks of waits for a state.
	retry connectors.Backoff
	poll  connectors.Backoff
	// cleanupTimeout bounds taking back what a failed or cancelled create
	// made; it runs even when the create's context has ended.
	cleanupTimeout time.Duration
	// settle is how long Create looks for the VM of an allocate whose
	// answer was lost (OpenNebula may still be writing it).
	settle time.Duration
	// softStop is how long Snapshot waits for the VM to power off by
	// ACPI before it powers it off hard.
	softStop time.Duration

	mu       sync.Mutex
	offers   []connectors.Offer
	offersAt time.Time
}

var _ connectors.Connector = (*Connector)(nil)

// New makes the connector from the catalog's provider settings (endpoint,
// username, password), with OpenNebula's usual fallbacks for what they
// leave out (see the package doc). It does not call the API.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	return newConnector(settings, openNebula, os.Getenv, os.UserHomeDir)
}

// newConnector makes a connector of a flavor; getenv and home stand for
// the process's environment and home folder (tests give their own).
func newConnector(settings connectors.Settings, fl *flavor, getenv func(string) string, home func() (string, error)) (*Connector, error) {
	if err := settings.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", fl.name, err)
	}
	cfg, err := fl.credentials(settings, getenv, home)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fl.name, err)
	}
	client, err := newRPC(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fl.name, err)
	}
	return &Connector{
		name: fl.name, flavor: fl, one: goca.NewController(client), endpoint: cfg.endpoint,
		retry: connectors.DefaultBackoff, poll: connectors.PollBackoff,
		cleanupTimeout: 2 * time.Minute, settle: 2 * time.Second, softStop: 2 * time.Minute,
	}, nil
}

// cleanupContext is a context for taking back what a failed call made:
// it keeps ctx's values but not its end, and has its own timeout.
func (c *Connector) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cleanupTimeout)
}
