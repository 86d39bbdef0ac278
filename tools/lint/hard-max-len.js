// tandem/hard-max-len: a line-length limit that string, template and regular-expression literals do
// not escape. ESLint's max-len holds code and comments to 120 columns in eslint.config.js but lets a
// line run on when a literal makes it long, so that a short message can be kept whole; it takes one
// set of options per file, so it cannot also cap those lines. This rule does: no line of any linted
// file may be longer than `max` characters (Unicode code points), so a long message is split into
// pieces at its phrase boundaries instead.

/** @type {import('eslint').Rule.RuleModule} */
export default {
  meta: {
    type: 'layout',
    docs: { description: 'Caps every line at `max` characters, string and template literals included.' },
    schema: [
      {
        type: 'object',
        properties: { max: { type: 'integer', minimum: 1 } },
        required: ['max'],
        additionalProperties: false,
      },
    ],
    messages: {
      tooLong:
        'This line is {{length}} characters long, over the hard limit of {{max}} that strings do not escape: ' +
        'split the string into pieces at a phrase boundary.',
    },
  },
  create(context) {
    const { max } = context.options[0];
    return {
      Program() {
        context.sourceCode.lines.forEach((line, i) => {
          const length = [...line].length;
          if (length <= max) return;
          context.report({
            loc: { start: { line: i + 1, column: max }, end: { line: i + 1, column: line.length } },
            messageId: 'tooLong',
            data: { length, max },
          });
        });
      },
    };
  },
};
