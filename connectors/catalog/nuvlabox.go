package catalog

// The NuvlaBox connector's settings: planned (a SlipStream connector not
// yet rebuilt; docs/connectors.md). NuvlaBoxes run container applications,
// not machines: no images, no sizing.
func init() {
	register(&Connector{
		Name: "nuvlabox", Title: "NuvlaBox (Nuvla)", ImageHint: "a Nuvla module of a container application", IDExample: "a Nuvla deployment id",
		Resource: "slipstream_nuvlabox_deployment", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "Nuvla API, default `https://nuvla.io`."},
			{Name: "api_key", Type: String, Scope: ScopeProvider, Description: "Nuvla API key; default `NUVLA_API_KEY`."},
			{Name: "api_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Nuvla API secret; default `NUVLA_API_SECRET`."},
			{Name: "nuvlabox", Type: String, Scope: ScopeInstance, Description: "Id of the NuvlaBox to deploy on; required on every node of this cloud."},
		},
	})
}
