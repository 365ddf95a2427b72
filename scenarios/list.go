package scenarios

// catalog is the explicit list of scenarios, in the order the picker shows
// them. A scenario exists only if it is listed here.
var catalog = []*Scenario{
	&deadlockMainRecv,
	&deadlockCrossWait,
	&raceCounter,
	&leakUnreadResult,
	&nilInterfaceError,
	&deadlockBufferedFull,
	&mapConcurrentWrites,
	&waitgroupAddInGoroutine,
	&resultsWithoutWaitgroup,
	&cacheMapRace,
	&onceLazyInit,
	&contextIgnored,
	&workerPool,
	&workerPoolPanic,
	&rateLimiter,
	&fanOutFanIn,
	&crawler,
	&pubsubSlowConsumer,
	&circuitBreaker,
	&deferOrder,
	&unbufferedVsBuffered,
	&sliceSharedAppend,
	&selectDefaultSpin,
	&contextRequestCancel,
	&cacheStampede,
	&loadBalancer,
	&paginationOffset,
	&stringConcatQuadratic,
	&gcPacing,
}

// Catalog returns every scenario, in display order. Callers must not modify
// the scenarios.
func Catalog() []*Scenario {
	return catalog
}
