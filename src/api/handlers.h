/* handlers: every route's handler, for the route table. */
#ifndef PITCHEY_API_HANDLERS_H
#define PITCHEY_API_HANDLERS_H

#include "api/app.h"

void handle_register(struct app *app, struct request *req, struct response *res);
void handle_login(struct app *app, struct request *req, struct response *res);
void handle_logout(struct app *app, struct request *req, struct response *res);
void handle_users_me(struct app *app, struct request *req, struct response *res);
void handle_user_get(struct app *app, struct request *req, struct response *res);
void handle_pitches_list(struct app *app, struct request *req, struct response *res);
void handle_pitch_get(struct app *app, struct request *req, struct response *res);
void handle_pitch_create(struct app *app, struct request *req, struct response *res);
void handle_pitch_update(struct app *app, struct request *req, struct response *res);
void handle_pitch_delete(struct app *app, struct request *req, struct response *res);

#endif
