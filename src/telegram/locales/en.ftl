# Everything Parley says on its own, in English (the default). Variables are filled in by
# src/telegram/texts.ts; numbers are formatted for the language.

start =
    Hi{ $name ->
        [none] {""}
       *[other] , { $name }
    }! I'm Parley, an AI assistant that remembers our conversation.

    Just write to me. I keep the context of this chat, even after I restart. Send /clear to make me forget it and start over, or /help to see what I can do.
help =
    Here's what I can do:

    • Write anything: I answer and remember the conversation of this chat.
    • In groups, mention me or reply to one of my messages. Each forum topic has its own conversation.

    Commands:
    /start: introduction
    /help: this message
    /clear: forget this conversation and start over
    /cancel: stop the answer being written
    /retry: answer my last message again
    /system: show or set this chat's instructions to the model
    /model: choose the model for this chat
    /mode: in groups, one shared conversation or one per member
    /export: this chat's history as a file
    /usage: what you've used today and this month
    /forget: erase everything you've written to me, for good

messages = { $count ->
    [one] { $count } message
   *[other] { $count } messages
}
answers = { $count ->
    [one] { $count } answer
   *[other] { $count } answers
}
tokens = { $count ->
    [one] { $count } token
   *[other] { $count } tokens
}
time-until = { $hours ->
    [0] { $minutes } min
   *[other] { $hours } h{ $minutes ->
        [0] {""}
       *[other] {" "}{ $minutes } min
    }
}

cleared-nothing = There was nothing to forget: we're starting fresh.
cleared = Done: I've forgotten our conversation ({ $messages }). Let's start over.
undo-clear = ↩️ Undo
undone = Undone: I remember our conversation again ({ $messages }).
undo-expired = This Undo button has expired: the conversation stays cleared.

system-show-custom = This chat's instructions:
system-show-default = The default instructions (this chat has none of its own):
system-show-how = /system <text> sets this chat's own (they stay after /clear); /system reset goes back to the default.
system-set = Done: I'll follow these instructions in this chat from now on, even after /clear.
system-reset = Done: this chat uses the default instructions again.
system-too-long = Those instructions are too long: at most { $max } characters, please.

model-ask = This chat uses { $current }. Choose a model:
model-only-one = This bot offers one model: { $current }.
model-set = Done: this chat now uses { $model }.
model-gone = That model is no longer offered. Send /model again.

mode-name-shared = One history for the group
mode-name-member = One history per member
mode-ask-shared = This group shares one conversation with me: everyone sees the same memory. Choose:
mode-ask-member = I keep a separate conversation with each member of this group. Choose:
mode-set-shared = Done: this group shares one conversation with me again.
mode-set-member = Done: from now on I keep a separate conversation with each member here (each can /clear their own). The shared one is kept for when you switch back.
mode-private = /mode is for groups: a private chat has one conversation.

export-empty = There's nothing to export: this chat's history is empty.
export-failed = Telegram did not take the export file. Try /export again in a minute.
export-caption = This chat's history: { $messages } (the same as JSON below).
export-title-private = Chat with { $name }
export-you = you
export-header = Exported from Parley on { $at } UTC: { $messages }.
export-user = User
export-stopped = stopped
export-not-answered = not answered

unknown-command = I don't know that command. /help lists what I can do.
non-text = I read text, photos, voice messages and documents, but not this kind of message yet.
storage-unavailable = Sorry, my memory (the database) is unavailable right now, so I couldn't take your message. Please try again in a minute.
storage-delayed = My memory (the database) is unavailable for a moment. I've got your message and will answer as soon as it's back.
empty-answer = The model returned an empty answer. Please try rephrasing your message.
llm-timeout = The model took too long to answer. Please try again.
llm-rate-limited = The model is busy right now (rate limited). Please try again in a minute.
llm-unavailable = I can't reach the model right now. Please try again in a moment.
llm-context-too-long = Our conversation has grown too long for the model. Send /clear to start over, then ask again.
llm-misconfigured = I can't use the model: the bot is misconfigured. The operator has been told in the logs.
llm-rejected = The model refused this request. Please try rephrasing your message.
llm-cancelled = I'm restarting and had to stop this answer. Please send your message again in a moment.
llm-unknown = Something went wrong while I was answering. Please try again.
interrupted = ⚠️ My answer was cut off. Please try again.
llm-images-unsupported = This model can't look at images. Please describe the picture in words.
media-too-big = That file is too big for me: Telegram lets bots download files of up to 20 MB.
media-download-failed = I couldn't download that file from Telegram. Please try sending it again.
media-transcription-failed = I couldn't listen to that: speech recognition isn't working right now. Please type your message instead.
media-nothing-heard = I couldn't hear any speech in that recording. Please try again, or type your message.
media-unsupported-file = I can't read this kind of file. I read text files (plain text, Markdown, CSV, JSON, code) and PDFs, and look at pictures.
media-unreadable-file = I couldn't find any text in that file (a scanned PDF has only pictures of pages). Please send it as text or as a photo.
images-unseen = (This model can't see images: I only read the caption.)
document-cut = { $name } is long: I read its first { $read } of { $total } characters.
document-cut-pages = { $name } is long: I read its first { $read } of { $total } pages.
document-cut-start = { $name } is long: I read only its first { $read } characters.
media-too-complex = That file is too complex for me to read: it needs more time or memory than I give one file. Please send its text, or a smaller part of it.
stopped-mark = _⏹ Stopped_
answer-cut-length = ✂️ The answer was cut here: it reached the longest answer this bot sends.
answer-cut-tokens = ✂️ The answer was cut here: you've used today's tokens.
stopped-before-text = ⏹ Stopped before I wrote anything.
nothing-to-stop = There's no answer being written right now.
nothing-to-retry = There's no answer to try again yet: ask me something first.

not-allowed = Sorry, this bot is private. If you know its operator, send them your Telegram user id: { $userId }
admin-only = Only the bot's administrators can do that.
admin-private-only = Please send admin commands in a private chat with me.
group-admins-only = Only this group's administrators can do that.
access-usage = Usage: /{ $command } <user id or @username>, for example /{ $command } 123456789 or /{ $command } @name
access-allowed = { $subject } may now talk to me.
access-allowed-everyone = { $subject } may now talk to me. (I'm open to everyone anyway, because ALLOWED_USERS is not limited.)
access-denied = { $subject } may no longer talk to me.
access-open = Access: open to everyone (except anyone denied below).
access-closed = Access: only the users listed below.
access-admins = Admins (ADMIN_USERS): { $list }
access-from-settings = Allowed by the settings (ALLOWED_USERS): { $list }
access-rules = Set with /allow and /deny (these win over the settings):
access-no-rules = Nobody was allowed or denied with /allow or /deny yet.
none = none
nobody = nobody
someone = someone

over-limit = You've reached today's limit of { $limit }. It resets at 00:00 UTC, in { $in }.
over-limit-turn = This message needs about { $needed }, but only { $left } of your daily limit are left. Send something shorter, or wait: the limit resets at 00:00 UTC, in { $in }.
seconds-of-speech = { $count ->
    [one] { $count } second of speech
   *[other] { $count } seconds of speech
}
not-remembered = ⚠️ I couldn't save this in our conversation, so I won't remember it.
poisoned = ⚠️ Something in this message breaks me every time I try it, so I've set it aside: I won't answer it. Please send it again in other words.
too-fast = You're sending messages faster than I can take them. I'll keep them but won't answer for a moment; slow down a little and I'll be back.
usage-mine =
    Your usage
    Today: { $today }
    This month: { $month }
usage-line = { $answers }, { $tokens }
usage-exempt = Daily limits don't apply to you (admin).
usage-caps = Daily limit: { $caps } used. Days are counted in UTC.
usage-cap-messages = { $used } of { $max } messages
usage-cap-tokens = { $used } of { $max } tokens
usage-cap-audio = { $used } of { $max } seconds of speech
usage-nobody = Nobody has used the bot this month.
usage-everyone = Everyone this month (today / month):
usage-erased = users who erased their data (/forget)
usage-everyone-row = { $who } ({ $userId }): { $todayTokens } / { $monthTokens } tokens, { $todayAnswers } / { $monthAnswers } answers

forget-ask = This erases everything you ever wrote to me, in every chat, and my answers to it, for good. It can't be undone. (/clear only starts this chat over.)
forget-yes = Erase everything
forget-no = Cancel
forget-done = Done: I've erased { $messages } for good.
forget-cancelled = Cancelled: nothing was erased.
not-your-button = This button belongs to someone else.
button-invalid = This button doesn't work here. Send the command again for a new one.
forget-expired = This button has expired. Send /forget again.

command-start = Introduction
command-help = What I can do
command-clear = Forget this conversation and start over
command-cancel = Stop the answer being written
command-retry = Answer my last message again
command-system = Show or set this chat's instructions to the model
command-model = Choose the model for this chat
command-mode = Groups: one shared conversation, or one per member
command-export = Send this chat's history as a file
command-usage = What you've used today and this month
command-forget = Erase everything you've written, for good
