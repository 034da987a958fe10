package webui

// Config configures Open WebUI. Every field is plain Go: they become the container's
// environment and the claim's size, fixed at plan time. The JSON names are the stack
// config's `webui` keys.
type Config struct {
	Enabled         bool   `json:"enabled" pulumi:"enabled"`
	Image           string `json:"image" pulumi:"image"`
	StorageSize     string `json:"storageSize" pulumi:"storageSize"`
	StorageClass    string `json:"storageClass" pulumi:"storageClass,optional"`
	EnableSignup    bool   `json:"enableSignup" pulumi:"enableSignup"`
	DefaultUserRole string `json:"defaultUserRole" pulumi:"defaultUserRole"`
	TimeoutSeconds  int    `json:"timeoutSeconds" pulumi:"timeoutSeconds"`
	// AdminEmail and AdminName are the first account, created at Open WebUI's first start
	// with the password from the webuiAdminPassword secret (generated when unset). With
	// sign-up off nobody could create it otherwise.
	AdminEmail string `json:"adminEmail" pulumi:"adminEmail"`
	AdminName  string `json:"adminName" pulumi:"adminName"`
}
