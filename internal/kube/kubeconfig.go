package kube

import "gopkg.in/yaml.v3"

// ExecAuth is a kubeconfig exec credential plugin: the cloud's CLI mints a
// short-lived token on every use, so the kubeconfig holds no credential
// (it is still exported as a Pulumi secret).
type ExecAuth struct {
	APIVersion         string   `yaml:"apiVersion"`
	Command            string   `yaml:"command"`
	Args               []string `yaml:"args,omitempty"`
	InstallHint        string   `yaml:"installHint,omitempty"`
	ProvideClusterInfo bool     `yaml:"provideClusterInfo,omitempty"`
}

type (
	kubeconfig struct {
		APIVersion     string         `yaml:"apiVersion"`
		Kind           string         `yaml:"kind"`
		Clusters       []namedCluster `yaml:"clusters"`
		Contexts       []namedContext `yaml:"contexts"`
		CurrentContext string         `yaml:"current-context"`
		Users          []namedUser    `yaml:"users"`
	}
	namedCluster struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server string `yaml:"server"`
			CAData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	}
	namedContext struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	}
	namedUser struct {
		Name string `yaml:"name"`
		User struct {
			Exec ExecAuth `yaml:"exec"`
		} `yaml:"user"`
	}
)

// Kubeconfig renders a one-cluster kubeconfig that authenticates with exec.
func Kubeconfig(name, server, caData string, exec ExecAuth) string {
	exec.APIVersion = "client.authentication.k8s.io/v1beta1"
	c := namedCluster{Name: name}
	c.Cluster.Server, c.Cluster.CAData = server, caData
	ctx := namedContext{Name: name}
	ctx.Context.Cluster, ctx.Context.User = name, name
	u := namedUser{Name: name}
	u.User.Exec = exec
	out, err := yaml.Marshal(kubeconfig{
		APIVersion: "v1", Kind: "Config", CurrentContext: name,
		Clusters: []namedCluster{c}, Contexts: []namedContext{ctx}, Users: []namedUser{u},
	})
	if err != nil {
		panic(err) // plain strings always marshal
	}
	return string(out)
}
