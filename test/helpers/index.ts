/**
 * The test kit, exported by the package as `orthanc-recipes/testing`: what the project's own tests
 * use, so that an external recipe is tested the same way. Start a real Orthanc on free ports,
 * generate DICOM studies, start a host with a recipe, and read its log.
 */
export { startTestOrthanc, testOrthancRoot, type TestOrthanc, type TestOrthancOptions } from './orthanc.js';
export { startHostProcess, startHostInProcess, LineLog, type HostProcess } from './host.js';
export { generateStudy, generateCollection, toPart10, type GeneratedInstance, type StudySpec } from './dicom.js';
export { rawRequest, basicAuth, type RawResponse } from './http.js';
export { eventually, waitUntilStable } from './changes.js';
export { startStoreScp, type StoreScp } from './storescp.js';
export { FakeOrthanc, type FakeAnswer, type FakeCall, type FakeHandler, type FakeRoutes } from './fake-orthanc.js';
export {
  RecipeTester,
  startRecipe,
  type RecipeTestCase,
  type RecipeUnderTest,
  type TesterChange,
  type TesterExpectation,
  type TesterRequest,
  type TesterResult,
} from './recipe-tester.js';
