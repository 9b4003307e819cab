import { RecipeTester } from '__IMPORT_TESTING__';
import recipe from '../index.js';

// Fast tests: the recipe in a real host in front of a fake Orthanc that answers what each case
// declares (`orthanc: { 'GET /instances/abc': { json: {...} } }`) and serves the changes it pushes.
// No Orthanc needed; a case takes milliseconds. __ID__.orthanc.test.ts runs it against a real one.
new RecipeTester(recipe, { options: { Greeting: 'Hi' } }).run([
  { name: 'answers the greeting before any instance', request: 'GET /recipes/__ID__', expect: { status: 200, json: { Greeting: 'Hi', LastInstance: null } } },
  {
    name: 'remembers the last stored instance',
    changes: [
      ['NEW_INSTANCE', 'INSTANCE', 'first'],
      ['NEW_INSTANCE', 'INSTANCE', 'second'],
    ],
    request: 'GET /recipes/__ID__',
    expect: { status: 200, json: { Greeting: 'Hi', LastInstance: 'second' } },
  },
  { name: 'answers 405 to other methods', request: { method: 'POST', path: '/recipes/__ID__' }, expect: { status: 405, headers: { allow: 'GET' } } },
  {
    name: 'answers 400 with the JSON error shape to an unknown parameter',
    request: 'GET /recipes/__ID__?colour=blue',
    expect: {
      status: 400,
      json: { HttpError: 'Bad Request', HttpStatus: 400, Message: 'unknown parameter "colour"; this route takes none', Method: 'GET', Uri: '/recipes/__ID__', Code: 'bad-parameter', Parameter: 'colour' },
    },
  },
  { name: 'refuses a greeting that is not a string', options: { Greeting: 3 }, expect: { configError: /\/Recipes\/__ID__\/Greeting/ } },
]);
