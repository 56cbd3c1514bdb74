package kube

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// RESTConfig loads the cluster configuration of a kube Environment the way
// kubectl does: kubeconfig when given (a leading ~/ is the home
// directory), else $KUBECONFIG (a list of files), else ~/.kube/config, and
// when none of them exists, the in-cluster configuration of the pod
// faultline runs in. context picks a kubeconfig context ("" the current one).
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	if strings.HasPrefix(kubeconfig, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		kubeconfig = filepath.Join(home, kubeconfig[2:])
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	if kubeconfig == "" && !anyExists(rules.Precedence) {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			if context != "" {
				return nil, fmt.Errorf("context %q given, but there is no kubeconfig (looked in %s) and the in-cluster configuration has no contexts", context, strings.Join(rules.Precedence, ", "))
			}
			return cfg, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return nil, fmt.Errorf("no cluster configuration: no kubeconfig (looked in %s) and not running in a pod", strings.Join(rules.Precedence, ", "))
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		where := kubeconfig
		if where == "" {
			where = strings.Join(rules.Precedence, ", ")
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", where, err)
	}
	return cfg, nil
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// OptionsFor returns engine options for a kube Environment: its name,
// namespaces, opt-in annotation, blast-radius caps, journal namespace and
// client limits; callers add the seed and the rest.
func OptionsFor(name string, env *v1alpha1.KubeEnvironment) Options {
	o := Options{Environment: name}
	if env == nil {
		return o
	}
	o.Namespaces = append(o.Namespaces, env.Namespaces...)
	o.OptInAnnotation = env.OptInAnnotation
	o.MaxPods = int(env.MaxPods)
	o.MaxPercent = float64(env.MaxPercent)
	o.JournalNamespace = env.JournalNamespace
	o.PauseImage = env.PauseImage
	o.QPS = float32(env.QPS)
	o.Burst = int(env.Burst)
	return o
}
