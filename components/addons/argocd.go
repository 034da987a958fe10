package addons

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

type argoValues struct {
	Configs struct {
		Params map[string]bool `json:"params"`
	} `json:"configs"`
	RedisHA struct {
		Enabled bool `json:"enabled"`
	} `json:"redis-ha"`
	Controller replicasValues `json:"controller"`
	Server     replicasValues `json:"server"`
	RepoServer replicasValues `json:"repoServer"`
	AppSet     replicasValues `json:"applicationSet"`
}

type replicasValues struct {
	Replicas  int       `json:"replicas"`
	Resources resources `json:"resources"`
}

// Application is the part of an Argo CD Application we declare.
type Application struct {
	Project     string    `json:"project"`
	Source      AppSource `json:"source"`
	Destination struct {
		Server    string `json:"server"`
		Namespace string `json:"namespace"`
	} `json:"destination"`
	SyncPolicy struct {
		Automated struct {
			Prune    bool `json:"prune"`
			SelfHeal bool `json:"selfHeal"`
		} `json:"automated"`
		SyncOptions []string `json:"syncOptions"`
	} `json:"syncPolicy"`
}

// AppSource is where Argo CD reads manifests from.
type AppSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
}

func argoCD(ctx *pulumi.Context, name string, cfg ArgoCDConfig, parent pulumi.ResourceOption) error {
	var v argoValues
	// Behind the mesh the server speaks plain HTTP; TLS ends at the edge.
	v.Configs.Params = map[string]bool{"server.insecure": cfg.Insecure}
	replicas := argoReplicas(cfg.HA)
	v.RedisHA.Enabled = cfg.HA
	small := resources{Requests: map[string]string{"cpu": argoSmallCPU, "memory": argoSmallMemory}}
	v.Controller = replicasValues{Replicas: 1, Resources: resources{Requests: map[string]string{"cpu": argoControllerCPU, "memory": argoControllerMemory}}}
	v.Server = replicasValues{Replicas: replicas, Resources: small}
	v.RepoServer = replicasValues{Replicas: replicas, Resources: small}
	v.AppSet = replicasValues{Replicas: replicas, Resources: small}
	argo, err := release(ctx, "argocd", versions.ArgoCD, ArgoCDNamespace, v, parent)
	if err != nil {
		return err
	}
	for _, app := range cfg.Apps {
		var a Application
		a.Project = "default"
		a.Source = AppSource{RepoURL: app.RepoURL, Path: app.Path, TargetRevision: app.TargetRevision}
		a.Destination.Server = "https://kubernetes.default.svc"
		a.Destination.Namespace = app.Namespace
		a.SyncPolicy.Automated.Prune = true
		a.SyncPolicy.Automated.SelfHeal = true
		a.SyncPolicy.SyncOptions = []string{"CreateNamespace=true"}
		_, err := kube.NewCustomResource(ctx, name+"-app-"+app.Name, "argoproj.io/v1alpha1", "Application",
			kube.Meta(app.Name, ArgoCDNamespace, kube.Labels("argocd-application", app.Name, "gitops")), a,
			parent, pulumi.DependsOn([]pulumi.Resource{argo}))
		if err != nil {
			return err
		}
	}
	return nil
}
