package sqlite

// readStmts run on the read pool; database/sql prepares each once per
// connection.
type readStmts struct {
	getClient, listClients          *stmt
	getUser, getUserByID, listUsers *stmt
	lookupToken, events             *stmt
	getIssuer, listIssuers          *stmt
	anyExpired, anyEventsBefore     *stmt
	stats, lastReserved             *stmt
	getSession, listSessions        *stmt
	getAuthCode                     *stmt
	getConsent, listConsents        *stmt
	cursor, getLogout, countLogouts *stmt
	userEvents, listUserGrants      *stmt
	searchEvents                    *stmt
}

// writeStmts run on the write connection, inside the writer's transactions.
type writeStmts struct {
	savepoint, release, rollbackTo                         *stmt
	getClient, insertClient, updateClient, deleteClient    *stmt
	getUser, insertUser, updateUser, deleteUser            *stmt
	insertSubjectEntry                                     *stmt
	insertGrant, insertToken                               *stmt
	lookupToken                                            *stmt
	revoke, revokeOnline                                   [numRevokeBy]revokeStmts
	insertIssuer, deleteIssuer, useJTI                     *stmt
	expiredGrants, deleteGrantTokens, deleteGrants         *stmt
	deleteExpiredTokens                                    *stmt
	deleteUsedJTIs, deleteEvents, reserve                  *stmt
	insertSession, touchSession, reauthSession, endSession *stmt
	endUserSessions, deleteOldSessions                     *stmt
	insertAuthCode, lookupAuthCode, useAuthCode            *stmt
	deleteExpiredCodes                                     *stmt
	putConsent, deleteConsent                              *stmt
	deleteUserConsents, deleteClientConsents               *stmt
	moveCursor, insertCursor, queueLogout                  *stmt
	claimLogouts, finishLogout, deleteLogouts              *stmt
}

// prepareReads prepares the statements of the read pool.
func (s *Store) prepareReads(r *preparer) {
	s.r = readStmts{
		getClient:       r.prep(qGetClient),
		listClients:     r.prep(qListClients),
		getUser:         r.prep(qGetUser),
		getUserByID:     r.prep(qGetUserByID),
		listUsers:       r.prep(qListUsers),
		lookupToken:     r.prep(qLookupToken),
		events:          r.prep(qEvents),
		getIssuer:       r.prep(qGetIssuer),
		listIssuers:     r.prep(qListIssuers),
		anyExpired:      r.prep(qAnyExpired),
		anyEventsBefore: r.prep(qAnyEventsBefore),
		stats:           r.prep(qStats),
		lastReserved:    r.prep(qLastReserved),
		getSession:      r.prep(qGetSession),
		listSessions:    r.prep(qListSessions),
		getAuthCode:     r.prep(qGetAuthCode),
		getConsent:      r.prep(qGetConsent),
		listConsents:    r.prep(qListConsents),
	}
}

// prepare makes every statement the store runs. Each is prepared when
// first needed (see stmt), and from then on the hot paths (LookupToken,
// CreateGrant, RevokeGrant, RotateRefresh) parse no SQL.
func (s *Store) prepare() {
	r := &preparer{s: s, db: s.rdb}
	s.prepareReads(r)
	w := &preparer{s: s, db: s.wdb}
	s.w = writeStmts{
		// One savepoint name serves every op: an op's savepoint is released
		// (or rolled back to and released) before the next op's opens.
		savepoint:          w.prep(`SAVEPOINT op`),
		release:            w.prep(`RELEASE op`),
		rollbackTo:         w.prep(`ROLLBACK TO op`),
		getClient:          w.prep(qGetClient),
		insertClient:       w.prep(qInsertClient),
		updateClient:       w.prep(qUpdateClient),
		deleteClient:       w.prep(qDeleteClient),
		getUser:            w.prep(qGetUser),
		insertUser:         w.prep(qInsertUser),
		updateUser:         w.prep(qUpdateUser),
		deleteUser:         w.prep(qDeleteUser),
		insertSubjectEntry: w.prep(qInsertSubjectEntry),
		insertGrant:        w.prep(qInsertGrant),
		insertToken:        w.prep(qInsertToken),
		lookupToken:        w.prep(qLookupToken),

		insertIssuer:        w.prep(qInsertIssuer),
		deleteIssuer:        w.prep(qDeleteIssuer),
		useJTI:              w.prep(qUseJTI),
		expiredGrants:       w.prep(qExpiredGrants),
		deleteGrantTokens:   w.prep(qDeleteGrantTokens),
		deleteExpiredTokens: w.prep(qDeleteExpiredTokens),
		deleteGrants:        w.prep(qDeleteGrants),
		deleteUsedJTIs:      w.prep(qDeleteUsedJTIs),
		deleteEvents:        w.prep(qDeleteEvents),
		reserve:             w.prep(qReserve),

		insertSession:        w.prep(qInsertSession),
		touchSession:         w.prep(qTouchSession),
		reauthSession:        w.prep(qReauthSession),
		endSession:           w.prep(qEndSession),
		endUserSessions:      w.prep(qEndUserSessions),
		deleteOldSessions:    w.prep(qDeleteOldSessions),
		insertAuthCode:       w.prep(qInsertAuthCode),
		lookupAuthCode:       w.prep(qLookupAuthCode),
		useAuthCode:          w.prep(qUseAuthCode),
		deleteExpiredCodes:   w.prep(qDeleteExpiredCodes),
		putConsent:           w.prep(qPutConsent),
		deleteConsent:        w.prep(qDeleteConsent),
		deleteUserConsents:   w.prep(qDeleteUserConsents),
		deleteClientConsents: w.prep(qDeleteClientConsents),
	}
	s.prepareRest(r, w)
}

// prepareRest prepares the rest of the statements (prepare would grow
// past a screen): the log followers' cursors and Logout Token deliveries,
// the revocations of each revokeBy, and the account page's reads.
func (s *Store) prepareRest(r, w *preparer) {
	s.prepareLogouts(r, w)
	s.prepareDevice(r, w)
	s.prepareExchange(r, w)
	for by, cond := range revokeConds {
		events, grants := revokeSQL(cond)
		s.w.revoke[by] = revokeStmts{events: w.prep(events), grants: w.prep(grants)}
		events, grants = revokeSQL(cond + keepOffline)
		s.w.revokeOnline[by] = revokeStmts{events: w.prep(events), grants: w.prep(grants)}
	}
	s.r.userEvents, s.r.listUserGrants = r.prep(qUserEvents), r.prep(qListUserGrants)
	s.r.searchEvents = r.prep(qSearchEvents)
	s.prepareGroups(w)
}
