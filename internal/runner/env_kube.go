package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine/kube"
	"github.com/faultline-dev/faultline/internal/kube/svcaccess"
)

// startKubeEnvironment connects to the cluster of a kube Environment: the
// Kubernetes engine for faults, and faultline's service access for load
// and probes. Faults a crashed faultline left in the cluster are reverted
// first, and the run starts once every workload is settled.
func startKubeEnvironment(ctx context.Context, env *v1alpha1.Environment, opts Options) (*environment, error) {
	k := env.Spec.Kube
	cfg, err := kube.RESTConfig(k.Kubeconfig, k.Context)
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	kopts := kube.OptionsFor(env.Name, k)
	kopts.Rand = opts.rand()
	eng, err := kube.New(cfg, kopts)
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	closeEngine := func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return eng.Close(cctx)
	}
	nss, err := eng.Namespaces(ctx)
	if err != nil {
		_ = closeEngine(ctx)
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	// A dry run only reads the cluster: it leaves a crashed run's faults to
	// the real run (or `faultline recover`).
	if !opts.dryRun {
		if rep, err := eng.Recover(ctx, kube.RecoverOptions{}); err != nil {
			_ = closeEngine(ctx)
			if rep != nil && !rep.OK() {
				return nil, fmt.Errorf("environment %s: faults left by an earlier run could not all be reverted; run `faultline recover -e <environment file>`: %w", env.Name, err)
			}
			return nil, fmt.Errorf("environment %s: recover faults left by an earlier run: %w", env.Name, err)
		}
	}
	access, err := svcaccess.New(cfg, eng.Client(), svcaccess.Options{
		Mode:        svcaccess.Mode(k.Access),
		Namespaces:  nss,
		DialContext: opts.PodDialer,
	})
	if err != nil {
		_ = closeEngine(ctx)
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	closeAll := func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return errors.Join(access.Close(cctx), closeEngine(ctx))
	}
	waitReady := func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, opts.readyTimeout())
		defer cancel()
		if err := eng.WaitSettled(rctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("environment %s: %w", env.Name, err)
		}
		return nil
	}
	if !opts.dryRun {
		if err := waitReady(ctx); err != nil {
			_ = closeAll(ctx)
			return nil, err
		}
	}
	var services []string
	for _, ns := range nss {
		list, err := eng.Client().CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			_ = closeAll(ctx)
			return nil, fmt.Errorf("environment %s: list services in %s: %w", env.Name, ns, err)
		}
		for _, s := range list.Items {
			services = append(services, s.Name)
		}
	}
	for name := range k.ServiceURLs {
		services = append(services, name)
	}
	return &environment{
		engine:   eng,
		services: services,
		resolve: func(service string) (string, error) {
			if u, ok := k.ServiceURLs[service]; ok {
				return strings.TrimRight(u, "/"), nil
			}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return access.Resolve(rctx, service)
		},
		waitReady: waitReady,
		close:     closeAll,
	}, nil
}
