// Package connectors is the seam between SlipStream and the clouds: the
// Connector interface that every cloud implements, the machine it creates
// and describes, generic sizing, and the error and retry rules that the
// provider applies to every cloud alike. It follows BOSH's CPI and Apache
// libcloud's NodeDriver: one small interface, and nothing cloud-specific
// above it.
//
// A cloud is one package beside this one (connectors/ec2,
// connectors/openstack, connectors/cloudsigma, …) that implements
// Connector on the cloud's own SDK or API client and passes the
// conformance suite in connectors/connectortest against its fake
// (connectors/<cloud>/<cloud>fake, built on connectors/fakecloud). The
// provider builds one Terraform resource per connector from the catalog's
// settings (connectors/catalog) and the shared implementation in
// provider/instance_resource.go; registering a connector there is the only
// provider change a new cloud needs.
//
// No Terraform types appear here: connectors are plain Go, usable by the
// provider, by slipc and by tests.
package connectors

import (
	"context"
	"time"
)

// Connector starts, describes and removes machines on one cloud (one
// account, one region) and turns stopped machines into images.
//
// Every method is safe for concurrent use. Errors from the cloud are
// *Error values (see errors.go) whose Kind tells the caller whether to
// retry; the connector itself does not retry, except where it waits for a
// state (Delete, Snapshot), so that retries and their budget are decided
// in one place (Retry) for every cloud.
type Connector interface {
	// Create asks the cloud for one machine and returns as soon as the
	// cloud has accepted it: the returned Machine has its ID and is
	// usually pending. It does not wait for the boot; the machine's agent
	// reports to the coordinator when it runs. Create labels the machine
	// with spec.Labels (LabelDeployment, LabelInstance, LabelSpec and the
	// user's own), so that List finds it.
	//
	// When Create fails after the cloud accepted the machine (a later
	// step of a create that takes several calls, or the context ended
	// while it waited), it returns the machine, with its ID, along with
	// the error: the caller then records or deletes it, so that no
	// machine is left that nobody knows. A connector that makes other
	// things for a machine (a cloned drive, a floating address) removes
	// them again when the machine itself was not accepted. Steps after
	// the first that created something are retried inside Create while
	// they fail transiently; the call as a whole is not (Retry does that).
	Create(ctx context.Context, spec MachineSpec) (*Machine, error)

	// CreateBatch starts count identical machines in as few calls as the
	// cloud allows (EC2 RunInstances with a count, Nova's min_count,
	// CloudSigma's list of servers): the pool resources start a node's
	// machines with it. The machines share spec, except that
	// spec.Instance is empty and the cloud names them; the caller tells
	// them apart by ID. Like Create it returns once the cloud accepted
	// them, and when it fails after the cloud accepted some, it returns
	// those along with the error.
	CreateBatch(ctx context.Context, spec MachineSpec, count int) ([]*Machine, error)

	// Describe returns the machine's current state and addresses. A
	// machine that no longer exists, or is terminated, gives an *Error of
	// KindNotFound.
	Describe(ctx context.Context, id string) (*Machine, error)

	// Delete terminates the machine and waits until it is gone (or
	// terminated for good). Deleting a machine that does not exist is not
	// an error: Delete is idempotent.
	Delete(ctx context.Context, id string) error

	// List returns the machines, not terminated, that carry
	// LabelDeployment = deployment: the machines of one deployment, to
	// find those no Terraform state knows (orphans).
	List(ctx context.Context, deployment string) ([]*Machine, error)

	// Snapshot makes an image of the machine's disk: it stops the machine
	// if it runs (and waits until it is stopped), creates the image named
	// name, labelled with labels, and waits until the image can start
	// machines. It returns the new image's id.
	Snapshot(ctx context.Context, id, name string, labels map[string]string) (imageID string, err error)

	// DeleteImage removes an image made by Snapshot and the storage
	// behind it (snapshots, drives). Deleting an image that does not
	// exist is not an error.
	DeleteImage(ctx context.Context, imageID string) error

	// Offers lists the cloud's machine sizes (instance types, flavors),
	// for generic sizing (PickOffer). A cloud whose machines are sized
	// freely (CloudSigma: any CPU and memory within limits) returns the
	// limits as one offer with Free set.
	Offers(ctx context.Context) ([]Offer, error)
}

// Labels every machine carries. Cloud tag and metadata keys differ in what
// they allow; these fit all of them (letters, digits and dashes).
const (
	// LabelDeployment is the deployment id: List selects on it.
	LabelDeployment = "slipstream-deployment"
	// LabelInstance is the instance name, "<node>.<index>".
	LabelInstance = "slipstream-instance"
	// LabelPool is the node whose pool a machine belongs to (machines of a
	// pool carry no LabelInstance: the coordinator knows which machine is
	// which instance).
	LabelPool = "slipstream-pool"
	// LabelSpec is SpecHash of what the machine was created from: a
	// machine left by an interrupted create is adopted only when it is
	// the machine the create would make.
	LabelSpec = "slipstream-spec"
)

// MachineSpec is what one machine is made from.
type MachineSpec struct {
	// Deployment and Instance name the machine's place in a deployment;
	// they are also in Labels.
	Deployment string
	Instance   string
	// Name is the machine's name at the cloud and its hostname: the
	// deployment id and instance name, made hostname-safe (MachineName).
	Name string
	// ImageID is the cloud's image (AMI, Glance image, library drive).
	ImageID string
	// UserData is given to cloud-init as it is (the connector encodes it
	// as its cloud's API wants, base64 for EC2).
	UserData string
	// SSHPublicKey, when set, is authorized for the image's login user
	// (imported as a key pair named after its fingerprint).
	SSHPublicKey string
	// Type is the instance type or flavor, explicit or chosen from Size
	// by PickOffer. Empty for a cloud whose offer is Free.
	Type string
	// Size is the generic size asked for. A cloud with Free sizing makes
	// the machine this size; the others use it for the disk when the
	// type does not fix it.
	Size Size
	// Settings are the connector's per-machine settings from the catalog
	// (ScopeInstance: subnet, security groups, network, …), by name.
	Settings Settings
	// Labels go on the machine as tags or metadata.
	Labels map[string]string
}

// State is a machine's life-cycle state, the same words for every cloud.
type State string

const (
	StatePending     State = "pending"     // accepted, booting
	StateRunning     State = "running"     // booted
	StateStopping    State = "stopping"    // shutting down, disk kept
	StateStopped     State = "stopped"     // off, disk kept
	StateTerminating State = "terminating" // being removed
	StateTerminated  State = "terminated"  // gone
	StateError       State = "error"       // the cloud gave up on it
)

// Alive reports whether the machine is or will be running: what an
// orphan must be to be adopted.
func (s State) Alive() bool { return s == StatePending || s == StateRunning }

// Machine is a machine as the cloud describes it.
type Machine struct {
	ID string
	// InstanceID is the id the machine knows itself by, which cloud-init
	// writes to /var/lib/cloud/data/instance-id, when that is not ID:
	// Azure's vmId (a UUID), where ID is the VM's resource id. A pool's
	// machines claim their instances with it. Empty means ID.
	InstanceID string
	Name       string
	State      State
	Type       string
	ImageID    string
	PrivateIP  string
	PublicIP   string
	Labels     map[string]string
	Created    time.Time
	// Reason is the cloud's own word on why the machine is in an error
	// state or stopped when it was not asked to (EC2's StateReason, Nova's
	// fault). Empty otherwise.
	Reason string
	// Settings are the per-machine settings (catalog ScopeInstance names)
	// that the cloud reports back, such as the subnet or security groups:
	// what an import can recover. Connectors fill what their API tells.
	Settings Settings
}

// Factory makes a connector from a provider configuration's cloud-wide
// settings (the catalog's ScopeProvider settings of that connector), with
// the cloud's usual fallbacks on environment variables and configuration
// files for what they leave out. Each connector package exports one as New.
type Factory func(ctx context.Context, settings Settings) (Connector, error)
