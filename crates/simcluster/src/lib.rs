//! A simulated member cluster (`fcp sim-cluster`): the API server with the member profile plus a simulator of nodes and workload status. Not implemented yet (issue 5).
