package ec2fake

import (
	"context"
	"errors"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TerminateInstances, StopInstances and StartInstances: each checks every
// id first (an unknown or malformed one fails the whole call, as in EC2),
// then changes each machine and answers its previous and current state.

type stateChangeXML struct {
	InstanceID    string           `xml:"instanceId"`
	CurrentState  instanceStateXML `xml:"currentState"`
	PreviousState instanceStateXML `xml:"previousState"`
}

type stateChangeResponse struct {
	Instances []stateChangeXML `xml:"instancesSet>item"`
}

func stateXML(m fakecloud.Machine) instanceStateXML {
	name := ec2State(m)
	return instanceStateXML{stateCodes[name], name}
}

// instancesOf reads InstanceId.N and returns the machines, or EC2's error
// for a missing, malformed or unknown id.
func (s *Server) instancesOf(p params) ([]fakecloud.Machine, *apiError) {
	ids, e := p.strings("InstanceId")
	if e != nil {
		return nil, e
	}
	if len(ids) == 0 {
		return nil, missingParameter("InstanceId")
	}
	var ms []fakecloud.Machine
	var missing []string
	for _, id := range ids {
		if !validID("i", id) {
			return nil, malformedInstanceID(id)
		}
		m, err := s.cloud.Machine(id)
		if err != nil {
			missing = append(missing, id)
			continue
		}
		ms = append(ms, m)
	}
	if len(missing) > 0 {
		return nil, instanceNotFound(missing...)
	}
	return ms, nil
}

// changeStates checks every machine with allowed, then applies change to
// each and answers the state changes.
func (s *Server) changeStates(p params, allowed func(fakecloud.Machine) *apiError, change func(id string) (fakecloud.Machine, error)) (response, *apiError) {
	ms, e := s.instancesOf(p)
	if e != nil {
		return nil, e
	}
	for _, m := range ms {
		if e := allowed(m); e != nil {
			return nil, e
		}
	}
	out := &stateChangeResponse{}
	for _, m := range ms {
		now, err := change(m.ID)
		switch {
		case errors.Is(err, fakecloud.ErrNotFound):
			return nil, instanceNotFound(m.ID)
		case errors.Is(err, fakecloud.ErrIncorrectState):
			return nil, incorrectInstanceState(m.ID, ec2State(m), "changed")
		case err != nil:
			return nil, cloudError(err)
		}
		out.Instances = append(out.Instances, stateChangeXML{InstanceID: m.ID, PreviousState: stateXML(m), CurrentState: stateXML(now)})
	}
	return out, nil
}

var terminateInstancesAction = action{
	params: []string{"Force", "InstanceId", "SkipOsShutdown"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		return s.changeStates(p, func(fakecloud.Machine) *apiError { return nil }, s.cloud.Terminate)
	},
}

var stopInstancesAction = action{
	params: []string{"Force", "Hibernate", "InstanceId", "SkipOsShutdown"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		return s.changeStates(p, func(m fakecloud.Machine) *apiError {
			switch m.State {
			case fakecloud.Pending, fakecloud.Terminating, fakecloud.Terminated:
				// EC2 does not stop an instance that has not booted yet.
				return incorrectInstanceState(m.ID, ec2State(m), "stopped")
			}
			return nil
		}, func(id string) (fakecloud.Machine, error) {
			m, err := s.cloud.Machine(id)
			if err == nil && m.State == fakecloud.Failed {
				return m, nil // shown as stopped already
			}
			return s.cloud.Stop(id)
		})
	},
}

var startInstancesAction = action{
	params: []string{"AdditionalInfo", "InstanceId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		return s.changeStates(p, func(m fakecloud.Machine) *apiError {
			switch m.State {
			case fakecloud.Stopping, fakecloud.Terminating, fakecloud.Terminated:
				return incorrectInstanceState(m.ID, ec2State(m), "started")
			}
			return nil
		}, s.cloud.Start)
	},
}
