/* What the test plugins answer, shared with the tests that load them. */
#ifndef DBROKER_TEST_PLUGIN_H
#define DBROKER_TEST_PLUGIN_H

/* testok's resolve() sets this host and token (a fake, PAT-shaped value). */
#define TESTOK_HOST "https://testok.example.com"
#define TESTOK_TOKEN "dapi7e57000000000000000000000000c0de"

/* testclient's resolve() sets a service principal (ABI 1.4 set_client);
 * testboth's sets it and TESTOK_TOKEN. */
#define TESTCLIENT_ID "3f0c1a2b-0000-4000-8000-00000000c11d"
#define TESTCLIENT_SECRET "dose7e57000000000000000000000000c0de"

/* testfail's resolve() sets this reason and returns DBR_E_AUTH. */
#define TESTFAIL_REASON "permission denied by policy"

/* testscrub's resolve() scrubs this variable through the host services. */
#define TESTSCRUB_VAR "DBR_TESTSCRUB_SECRET"

#endif
